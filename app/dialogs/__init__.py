"""Dialogs: error reports and the training dialog."""
