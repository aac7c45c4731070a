"""A PyTorch image classifier with transfer learning: a small CNN pretrained on handwritten
digits (shipped in the package), fine-tuned on a zip of class folders (a modelport pilot)."""
