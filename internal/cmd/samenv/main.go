// Command samenv is a dev command, `make sam-env SAM_VARS="NAME=value
// ..."`: it writes build/sam/env.json, the --env-vars file of `sam local
// invoke`, from what the synthesized template declares (see the rig
// internal/samenv).
package main

import (
	"fmt"
	"os"

	"github.com/hash-stream/hash-stream-aws/internal/samenv"
)

func main() {
	if err := samenv.Run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
