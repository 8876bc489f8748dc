"""Files shipped with the package: the example policy used when no policy file is configured."""
