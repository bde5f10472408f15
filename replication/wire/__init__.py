"""What travels between a job's src and dest: message classes, their codec, the Redis transport."""
