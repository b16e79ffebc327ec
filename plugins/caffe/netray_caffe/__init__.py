"""netray plugin for Caffe: ``.prototxt`` nets (text NetParameter) and ``.caffemodel`` weights (binary NetParameter)."""
