"""Singer target that lands streams as Parquet."""
