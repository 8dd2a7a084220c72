"""S3/MinIO backend (in progress)."""
