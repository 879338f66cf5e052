"""HW3 hidden suite: self-attention from scratch, fine-tuning MiniLM."""
