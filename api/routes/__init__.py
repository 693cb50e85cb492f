"""The REST API's routes, one router per area; api/app.py includes them all."""
