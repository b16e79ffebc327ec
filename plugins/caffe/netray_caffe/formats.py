"""The format the Caffe plugin reads, declared as data (no reader imported)."""

from netray import FormatInfo

FORMAT = "Caffe"

FORMATS = [
    FormatInfo(
        FORMAT,
        (".prototxt", ".caffemodel"),
        "Caffe net: .prototxt (text NetParameter, any of the V0/V1/V2 layer syntaxes) with the "
        ".caffemodel beside it for weights, or a .caffemodel alone (binary NetParameter with its blobs)",
        patterns=(rb"(?m)^\s*layers?\s*\{", rb"(?m)^\s*input_(dim|shape)\s*[:{]"),
        # A .prototxt reads the .caffemodel of its name (else the folder's only one); a .caffemodel
        # opened on its own opens the net definition that pairs with it the same way.
        companions=("{stem}.caffemodel", "*.caffemodel", "{stem}.prototxt", "*.prototxt"),
        runs_with="Caffe (pycaffe) or OpenCV's dnn module (pip install opencv-python: cv2.dnn.readNetFromCaffe)",
    )
]
