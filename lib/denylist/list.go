package denylist

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// List is one parsed denylist file. It is read-only once parsed; match
// through a Set.
type List struct {
	// File is the name given to Parse; rules report it.
	File string
	// Name, Description and Author come from the header, if any.
	Name, Description, Author string
	// Hints is the header's hints map (never nil).
	Hints map[string]string

	// Rules counts the rules applied, Ignored the /ipns/ and bare-path
	// rules (each also a warning), Invalid the lines that did not parse
	// (each also an error).
	Rules, Ignored, Invalid int
	// Errors and Warnings hold the first MaxReported skipped lines.
	Errors, Warnings []*LineError

	metas       []meta
	byMultihash map[string]ref        // /ipfs/CID and /ipfs/CID/*, by multihash bytes
	byPath      map[string][]pathRule // /ipfs/CID/PATH[*], by multihash bytes, in line order
	legacy      map[legacyKey]ref     // //sha256-hex
	modern      map[string]ref        // //b58-multihash, by multihash bytes
	funcs       []hashFunc            // the hash functions of modern
}

// Parse reads a list in the Compact Denylist Format. name identifies it in
// rules and errors (a file name). Lines that do not parse are reported in
// List.Errors and /ipns/ or bare-path rules in List.Warnings: neither fails
// the list. Parse fails on a read error, a list past its size limit
// (ErrTooLarge), a header that does not parse (ErrHeader), or a list with no
// rule at all (ErrNoRules).
func Parse(r io.Reader, name string, opts ...Option) (*List, error) {
	o := applyOptions(opts)
	p := &parser{
		list: &List{
			File:        name,
			Hints:       map[string]string{},
			byMultihash: map[string]ref{},
			byPath:      map[string][]pathRule{},
			legacy:      map[legacyKey]ref{},
			modern:      map[string]ref{},
		},
		metaIndex: map[meta]uint32{},
		lines:     newLineReader(r, o),
	}
	if err := p.run(); err != nil {
		return nil, fmt.Errorf("denylist: %s: %w", name, err)
	}
	l := p.list
	if l.Rules+l.Ignored == 0 {
		if len(l.Errors) > 0 {
			return nil, fmt.Errorf("denylist: %s: %w (%d lines did not parse, the first: %v)", name, ErrNoRules, l.Invalid, l.Errors[0])
		}
		return nil, fmt.Errorf("denylist: %s: %w", name, ErrNoRules)
	}
	return l, nil
}

// parser fills a List from its lines.
type parser struct {
	list      *List
	metaIndex map[meta]uint32
	defaults  [2]uint32 // meta of a rule without hints: deny, allow
	lines     *lineReader
}

// run reads the header, if any, then every rule.
func (p *parser) run() error {
	pending, err := p.readHeader()
	if err != nil {
		return err
	}
	for _, l := range pending {
		p.line(l.number, l.text, l.tooLong)
	}
	for {
		text, err := p.lines.next()
		switch {
		case err == io.EOF:
			return nil
		case errors.Is(err, ErrLineTooLong):
			p.line(p.lines.number, nil, true)
		case err != nil:
			return err
		default:
			p.line(p.lines.number, text, false)
		}
	}
}

// pendingLine is a line read while looking for the header's end.
type pendingLine struct {
	number  int
	text    []byte
	tooLong bool
}

// readHeader reads up to the "---" ending a header and applies it. When
// there is none within MaxHeaderSize (or before the end), it returns the
// lines read, to be parsed as rules.
func (p *parser) readHeader() ([]pendingLine, error) {
	var pending []pendingLine
	size := 0
	for size <= MaxHeaderSize {
		text, err := p.lines.next()
		switch {
		case err == io.EOF:
			return pending, p.setHeader(header{hints: map[string]string{}})
		case errors.Is(err, ErrLineTooLong):
			pending = append(pending, pendingLine{number: p.lines.number, tooLong: true})
			size += p.lines.lastSize
			continue
		case err != nil:
			return nil, err
		}
		if string(bytes.TrimRight(text, " \t\r")) == "---" {
			lines := make([]string, len(pending))
			for i, l := range pending {
				if l.tooLong {
					return nil, fmt.Errorf("%w: line %d: %w", ErrHeader, l.number, ErrLineTooLong)
				}
				lines[i] = string(l.text)
			}
			h, err := parseHeader(lines)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrHeader, err)
			}
			return nil, p.setHeader(h)
		}
		pending = append(pending, pendingLine{number: p.lines.number, text: bytes.Clone(text)})
		size += p.lines.lastSize
	}
	return pending, p.setHeader(header{hints: map[string]string{}})
}

// setHeader keeps the header and derives the default meta of rules from
// its hints.
func (p *parser) setHeader(h header) error {
	l := p.list
	l.Name, l.Description, l.Author, l.Hints = h.name, h.description, h.author, h.hints
	m := meta{status: DefaultStatus}
	for k, v := range h.hints {
		if err := applyHint(&m, k, v); err != nil {
			return fmt.Errorf("%w: hints: %w", ErrHeader, err)
		}
	}
	p.defaults[0] = p.metaFor(m)
	m.allow = true
	p.defaults[1] = p.metaFor(m)
	return nil
}

// metaFor returns the index of m in the list's metas, adding it if new.
func (p *parser) metaFor(m meta) uint32 {
	if i, ok := p.metaIndex[m]; ok {
		return i
	}
	i := uint32(len(p.list.metas))
	p.list.metas = append(p.list.metas, m)
	p.metaIndex[m] = i
	return i
}

// line parses one line and records its outcome.
func (p *parser) line(number int, text []byte, tooLong bool) {
	if tooLong {
		p.fail(number, ErrLineTooLong)
		return
	}
	ignored, err := p.rule(uint32(number), bytes.TrimSpace(text))
	switch {
	case err != nil:
		p.fail(number, err)
	case ignored != nil:
		p.list.Ignored++
		if len(p.list.Warnings) < MaxReported {
			p.list.Warnings = append(p.list.Warnings, &LineError{File: p.list.File, Line: number, Err: ignored})
		}
	}
}

func (p *parser) fail(number int, err error) {
	p.list.Invalid++
	if len(p.list.Errors) < MaxReported {
		p.list.Errors = append(p.list.Errors, &LineError{File: p.list.File, Line: number, Err: err})
	}
}

// lineReader reads lines within the size limits.
type lineReader struct {
	r        *bufio.Reader
	opts     options
	read     int64 // bytes read so far
	number   int   // the line last returned
	lastSize int   // its size, newline included
}

func newLineReader(r io.Reader, o options) *lineReader {
	size := 64 << 10
	if o.maxLineLength+2 > size {
		size = o.maxLineLength + 2
	}
	return &lineReader{r: bufio.NewReaderSize(r, size), opts: o}
}

// next returns the next line without its "\n", valid until the following
// call; io.EOF at the end; ErrLineTooLong (the line skipped) for a line
// past the limit; ErrTooLarge once the list passes its size limit.
func (lr *lineReader) next() ([]byte, error) {
	b, err := lr.r.ReadSlice('\n')
	size := len(b)
	for err == bufio.ErrBufferFull { // a line longer than the buffer: skip it
		if lr.read+int64(size) > lr.opts.maxFileSize {
			return nil, ErrTooLarge
		}
		b, err = lr.r.ReadSlice('\n')
		size += len(b)
		b = nil
	}
	lr.read += int64(size)
	if lr.read > lr.opts.maxFileSize {
		return nil, ErrTooLarge
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	if size == 0 {
		return nil, io.EOF
	}
	lr.number++
	lr.lastSize = size
	b = bytes.TrimSuffix(b, []byte("\n"))
	if b == nil || len(bytes.TrimSuffix(b, []byte("\r"))) > lr.opts.maxLineLength {
		return nil, ErrLineTooLong
	}
	if lr.number == 1 {
		b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	}
	return b, nil
}
