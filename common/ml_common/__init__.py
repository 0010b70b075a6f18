"""What the model server, the trainer, the baseline generator and the bench share about models and data.

- :mod:`ml_common.classifier`: a model directory loaded into a :class:`~ml_common.classifier.Classifier`
  (PyTorch), :mod:`ml_common.onnx_runtime` the same behind ONNX Runtime, :mod:`ml_common.device` where it runs.
- :mod:`ml_common.datasets`: the labelled datasets, de-duplication and seeded splits;
  :mod:`ml_common.splits` the splits a model directory was trained on, rebuilt.

It needs torch (the ``ml`` extra); the gateway and the feature transformer never import it.
"""
