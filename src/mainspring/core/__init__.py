"""The shared kernel: configuration, database, errors, pagination, security and the other
services every module uses. It imports no module (an import contract in pyproject.toml)."""
