"""FaceForge core: everything that computes. Never imports Qt, VTK or the app."""
