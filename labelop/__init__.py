"""LabelOp: self-hosted, privacy-first image annotation."""
