"""netray plugin for Keras models: .keras (v3 zip archives) and Keras 2 HDF5 files.

Reads the saved JSON config and the HDF5 weights with h5py; never imports Keras
or any class named in the file.
"""
