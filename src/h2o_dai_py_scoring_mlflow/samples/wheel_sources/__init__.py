"""Sources of the two wheels in the synthetic export.

``h2oaicore/`` becomes ``h2oaicore-1.10.7.3-cp38-cp38-linux_x86_64.whl`` and ``experiment/``
becomes the package of ``scoring_h2oai_experiment_<key>-1.0.0-py3-none-any.whl``. They are
written for Python 3.8 with the export's pinned numpy/pandas, and they reproduce the real
runtime's behaviour and failure modes. The sample builder imports ``h2oaicore.pipeline`` from
here to fit the model with exactly the transforms the scorer applies.
"""
