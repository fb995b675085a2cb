"""The scorer model that ships with the project (`default.skops` + `default.json`)."""
