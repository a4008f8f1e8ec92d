"""Face models behind one interface (`FaceModel`)."""
