"""Hidden suite of HW2 (CNN image classification on CIFAR-10)."""
