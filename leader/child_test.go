package leader_test

const childEnv = "X"

func runChild() int { return 0 }
