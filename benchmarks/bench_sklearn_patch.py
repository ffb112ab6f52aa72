"""End-to-end: scikit-learn fits unpatched vs fastlogistic.patch(), alternated
in one run (LogisticRegression lbfgs and HistGradientBoostingClassifier on
n x d float64 binary data).

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/bench_sklearn_patch.py [n] [d] [repeats]
"""
import sys

from fastlogistic.bench.sklearn import main

if __name__ == "__main__":
    main(sys.argv[1:])
