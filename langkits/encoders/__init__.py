"""Text encoders: the weight-free `bow` baseline and Hugging Face models (`hf:`)."""
