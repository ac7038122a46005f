package cli

import (
	"context"
	"io"
	"os"
)

// testProject is this repository's one-app pipeline (sample-app), as the
// contract tests exercise it.
func testProject() Project {
	lock, err := os.ReadFile("../../ci/images.lock")
	if err != nil {
		panic(err)
	}
	return Project{Apps: []App{{Name: "sample-app", Source: "../../sample-app"}}, ImageLock: lock}
}

func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return Execute(ctx, testProject(), args, stdout, stderr)
}
