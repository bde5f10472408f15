"""The Kafka sink: subscription jobs publish the source's changes to Kafka topics."""
