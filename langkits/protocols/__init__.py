"""Text protocols: probe (frozen features + linear head) and finetune."""
