"""Code every Kizuna service uses: settings, event schemas, Kafka helpers, topics, errors, logs."""
