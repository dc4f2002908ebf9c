"""Multitrack music GAN on the shared core: MuseGAN-style Bach chorales to MIDI.

Needs the ``music`` extra (music21 for the corpus, pretty-midi for MIDI files).
"""
