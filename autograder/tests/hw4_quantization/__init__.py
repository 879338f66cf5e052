"""Hidden suite of HW4 (quantizing a pretrained Transformer: absmax, zero point, int4)."""
