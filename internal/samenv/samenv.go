// Package samenv is a test rig and the library of the dev command
// internal/cmd/samenv (`make sam-env`): it writes the --env-vars file of
// `sam local invoke` for the gateway function of a synthesized
// CloudFormation template, and infra's tests check it against the
// template the stack synthesizes.
//
// SAM applies an env-vars entry only to a variable the function's template
// declares (aws-sam-cli issue 6145): anything else in the file is silently
// dropped. So the file holds exactly the declared variables, keyed by the
// function's logical ID, with the template's literal values unless
// overridden; a variable the template sets from a reference (the name of a
// bucket the stack makes) has no local value and must be given.
package samenv

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DefaultFunctionPrefix starts the logical ID CDK gives the stack's
// GatewayFunction construct (the rest is a hash of its path).
const DefaultFunctionPrefix = "GatewayFunction"

type template struct {
	Resources map[string]struct {
		Type       string `json:"Type"`
		Properties struct {
			Environment struct {
				Variables map[string]any `json:"Variables"`
			} `json:"Environment"`
		} `json:"Properties"`
	} `json:"Resources"`
}

// Function returns the logical ID and declared environment variables of the
// one AWS::Lambda::Function of tmpl whose logical ID starts with prefix.
func Function(tmpl []byte, prefix string) (string, map[string]any, error) {
	var t template
	if err := json.Unmarshal(tmpl, &t); err != nil {
		return "", nil, fmt.Errorf("samenv: template: %w", err)
	}
	var ids []string
	for id, r := range t.Resources {
		if r.Type == "AWS::Lambda::Function" && strings.HasPrefix(id, prefix) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	switch len(ids) {
	case 1:
		return ids[0], t.Resources[ids[0]].Properties.Environment.Variables, nil
	case 0:
		return "", nil, fmt.Errorf("samenv: no AWS::Lambda::Function with a logical ID starting %q in the template (synthesized with compute=ecs?)", prefix)
	default:
		return "", nil, fmt.Errorf("samenv: %d functions with a logical ID starting %q: %s", len(ids), prefix, strings.Join(ids, ", "))
	}
}

// Generate returns the env-vars document for the function of tmpl: its
// logical ID mapped to every variable it declares, each set from set or
// else from the template's literal value. Setting a variable the template
// does not declare, or leaving one the template sets from a reference
// unset, is an error.
func Generate(tmpl []byte, prefix string, set map[string]string) (string, map[string]map[string]string, error) {
	id, declared, err := Function(tmpl, prefix)
	if err != nil {
		return "", nil, err
	}
	var errs []error
	for k := range set {
		if _, ok := declared[k]; !ok {
			errs = append(errs, fmt.Errorf("%s is not declared by %s in the template: SAM would ignore it (aws-sam-cli issue 6145)", k, id))
		}
	}
	vars := make(map[string]string, len(declared))
	var missing []string
	for k, v := range declared {
		if s, ok := set[k]; ok {
			vars[k] = s
		} else if s, ok := v.(string); ok {
			vars[k] = s
		} else {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		errs = append(errs, fmt.Errorf("the template sets %s from a reference (a bucket the stack makes): give a value, e.g. %s=<bucket name>", strings.Join(missing, ", "), missing[0]))
	}
	if err := errors.Join(errs...); err != nil {
		return "", nil, fmt.Errorf("samenv: %w", err)
	}
	return id, map[string]map[string]string{id: vars}, nil
}

// Run is the samenv command: it reads -template and either prints the
// function's logical ID (-id) or writes the env-vars file -o from the
// NAME=value arguments.
func Run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("samenv", flag.ContinueOnError)
	tmplPath := fs.String("template", "cdk.out/HashStreamGateway.template.json", "synthesized template (make synth)")
	out := fs.String("o", "build/sam/env.json", "env-vars file to write")
	prefix := fs.String("function", DefaultFunctionPrefix, "logical ID prefix of the function")
	idOnly := fs.Bool("id", false, "print the function's logical ID and write nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	tmpl, err := os.ReadFile(*tmplPath)
	if err != nil {
		return fmt.Errorf("samenv: %w (run make synth)", err)
	}
	if *idOnly {
		id, _, err := Function(tmpl, *prefix)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, id)
		return err
	}
	set := map[string]string{}
	for _, a := range fs.Args() {
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return fmt.Errorf("samenv: argument %q: want NAME=value", a)
		}
		set[k] = v
	}
	id, env, err := Generate(tmpl, *prefix, set)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s: %d variables for %s\n", *out, len(env[id]), id)
	return err
}
