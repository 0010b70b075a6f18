"""KServe transformer: email text in, features + token tensors to the predictor, spam verdicts out."""
