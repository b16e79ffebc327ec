"""The format the Keras plugin reads, declared as data (no reader imported)."""

from netray import FormatInfo

FORMAT = "Keras"

FORMATS = [
    FormatInfo(
        FORMAT,
        (".keras", ".h5", ".hdf5"),
        "Keras model: .keras v3 archive or Keras 2 HDF5",
        magic=(b"\x89HDF\r\n\x1a\n",),
        contains=("config.json", "model.weights.h5"),
    )
]
