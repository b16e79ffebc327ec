"""The formats the NumPy plugin reads, declared as data (no reader imported).

The core builds its install hints from this file, so it imports nothing but netray.
"""

from netray import FormatInfo

NPY_FORMAT = "NumPy array"
NPZ_FORMAT = "NumPy archive"

NPY_MAGIC = b"\x93NUMPY"

FORMATS = [
    FormatInfo(
        NPY_FORMAT,
        (".npy",),
        "one NumPy array (np.save): magic, a header of dtype, shape and order, then the raw data",
        magic=(NPY_MAGIC,),
    ),
    FormatInfo(
        NPZ_FORMAT,
        (".npz",),
        "a zip of .npy members (np.savez, np.savez_compressed), one array each",
        # A zip whose first local header names a .npy member (30 fixed bytes, then the name).
        patterns=(rb"\APK\x03\x04[\s\S]{26}[^\x00]{0,255}?\.npy",),
    ),
]
