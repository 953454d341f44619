"""Inference: classifiers (PyTorch, ONNX Runtime), prediction, export, video, Grad-CAM."""
