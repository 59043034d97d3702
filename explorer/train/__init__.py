"""Training a design beside its unshared twin: data (data.py, pure), the design made trainable
(adapt.py, pure), batches and the engine (torch), checkpoints in safetensors."""
