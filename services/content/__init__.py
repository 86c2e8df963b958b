"""The content service: tenants, their products, write keys and API keys."""
