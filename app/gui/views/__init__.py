"""Views: widgets that lay themselves out and bind to a view-model's signals."""
