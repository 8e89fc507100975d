// Command streamload is fastmock's streaming load client: it opens N concurrent
// HTTP/1.1 streams against one URL over raw TCP (no net/http, so the client
// stays cheap at 10,000 streams on one core), reads their frames and reports
// how regularly they arrived.
//
//	streamload -url 'http://127.0.0.1:3000/stream-sse?delay_ms=20' -n 1000 -ramp 1s
//	streamload -url 'http://127.0.0.1:3000/stream-loop?delay_ms=1000' -n 10000 -ramp 4s -duration 14s -pid 1234
//	streamload -url 'http://127.0.0.1:3000/stream-sse?delay_ms=20&max_tokens=100' -n 1 -expect-delay 20ms
//	streamload -url 'http://127.0.0.1:3000/v1/chat/completions?delay_ms=20' -method POST -body @chat.json -n 1000
//
// Every stream sends the same request: a GET, or with -method POST and -body
// (a literal, or @FILE) that body as application/json.
//
// A frame is one SSE event with a data line (ended by a blank line) when the
// response is text/event-stream, otherwise one non-empty line (NDJSON). The
// body may be chunked, Content-Length delimited or close delimited. A frame's
// time is the moment the read that completed it returned. Time to first frame
// (TTFF) counts from just before the connection is dialled; gaps are between
// consecutive frames of one stream.
//
// With -duration every stream is closed by the client at start+duration (for
// endless streams); a stream still open then is "held" (it counts as ok when
// it got a 200 and at least one frame). Without -duration a stream is ok when
// the server ends it cleanly. A stream fails on a dial error, a non-200
// status, a reset, a truncated body, or when -timeout elapses first.
//
// With -expect-delay D each finished stream's drift is measured: the time its
// last content frame (not [DONE] / done:true) arrived, from the request, minus
// the ideal (content frames - 1) x D.
//
// With -pid the server's resident memory (VmRSS summed over the process tree)
// is sampled every 200 ms; the last sample before the hold ends is reported
// with the number of streams open at that moment.
//
// Output: human lines on stderr, then one line on stdout: RESULT {json}.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type result struct {
	ok, held, finished bool
	err                string
	frames             int
	content            int // frames that are not the end marker
	ttff               time.Duration
	drift              time.Duration
	hasDrift           bool
	gaps               []int32 // microseconds
}

var (
	nStarted, nOpen, nMaxOpen, nFrames, nOK, nFailed atomic.Int64
)

func main() {
	rawURL := flag.String("url", "", "stream URL (http://host:port/path?query)")
	n := flag.Int("n", 100, "concurrent streams")
	ramp := flag.Duration("ramp", 0, "spread the N connection starts evenly over this period")
	duration := flag.Duration("duration", 0, "close every stream at start+duration (endless streams); 0 = read until the server ends it")
	timeout := flag.Duration("timeout", 30*time.Second, "per-stream limit; a stream not done by then fails")
	pid := flag.Int("pid", 0, "server PID whose tree VmRSS to sample")
	expect := flag.Duration("expect-delay", 0, "pacing the server was asked for; enables the drift measurement")
	maxGaps := flag.Int("max-gaps", 100000, "per-stream cap on recorded gaps")
	bufSize := flag.Int("buf", 4096, "read buffer per stream (bytes)")
	quiet := flag.Bool("q", false, "no per-second progress on stderr")
	method := flag.String("method", "GET", "request method")
	bodyArg := flag.String("body", "", "request body (sent as application/json); @FILE reads it from FILE")
	flag.Parse()

	u, err := url.Parse(*rawURL)
	if err != nil || u.Scheme != "http" || u.Host == "" || *n < 1 {
		fmt.Fprintln(os.Stderr, "streamload: need -url http://host:port/path and -n >= 1")
		os.Exit(2)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	body := []byte(*bodyArg)
	if strings.HasPrefix(*bodyArg, "@") {
		if body, err = os.ReadFile((*bodyArg)[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "streamload: -body:", err)
			os.Exit(2)
		}
	}
	head := strings.ToUpper(*method) + " " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host +
		"\r\nUser-Agent: fastmock-bench-streamload\r\nAccept: */*\r\n"
	if len(body) > 0 {
		head += "Content-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n"
	}
	req := append([]byte(head+"\r\n"), body...)

	start := time.Now()
	var holdEnd time.Time
	if *duration > 0 {
		holdEnd = start.Add(*duration)
	}

	// sampler: RSS + open streams, progress lines
	var (
		mu             sync.Mutex
		rssEnd, rssMax int64
		openEnd        int64
		samplerStop    = make(chan struct{})
		samplerDone    = make(chan struct{})
	)
	go func() {
		defer close(samplerDone)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		next := time.Second
		for {
			select {
			case <-t.C:
			case <-samplerStop:
				return
			}
			el := time.Since(start)
			open := nOpen.Load()
			var rss int64
			if *pid > 0 {
				rss = treeRSSKB(*pid)
			}
			mu.Lock()
			if rss > rssMax {
				rssMax = rss
			}
			if *duration == 0 || el < *duration-100*time.Millisecond {
				rssEnd, openEnd = rss, open
			}
			mu.Unlock()
			if !*quiet && el >= next {
				next += time.Second
				fmt.Fprintf(os.Stderr, "t=%5.1fs started=%d open=%d ok=%d failed=%d frames=%d rss_kb=%d\n",
					el.Seconds(), nStarted.Load(), open, nOK.Load(), nFailed.Load(), nFrames.Load(), rss)
			}
		}
	}()

	results := make([]result, *n)
	var wg sync.WaitGroup
	for i := 0; i < *n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if *ramp > 0 {
				time.Sleep(time.Until(start.Add(time.Duration(int64(*ramp) * int64(i) / int64(*n)))))
			}
			nStarted.Add(1)
			r := runStream(addr, req, holdEnd, *timeout, *expect, *maxGaps, *bufSize)
			if r.ok {
				nOK.Add(1)
			} else {
				nFailed.Add(1)
			}
			results[i] = r
		}(i)
	}
	wg.Wait()
	wall := time.Since(start)
	close(samplerStop)
	<-samplerDone
	report(*rawURL, *n, wall, results, rssEnd, rssMax, openEnd)
}

type streamErr string

func (e streamErr) Error() string { return string(e) }

func runStream(addr string, req []byte, holdEnd time.Time, timeout, expect time.Duration, maxGaps, bufSize int) (r result) {
	r.ttff = -1
	begin := time.Now()
	deadline := begin.Add(timeout)
	held := false
	if !holdEnd.IsZero() && holdEnd.Before(deadline) {
		deadline, held = holdEnd, true
	}
	conn, err := net.DialTimeout("tcp", addr, time.Until(deadline))
	if err != nil {
		r.err = errKind(err, held)
		return
	}
	defer conn.Close()
	conn.SetDeadline(deadline)
	if _, err := conn.Write(req); err != nil {
		r.err = errKind(err, held)
		return
	}
	br := bufio.NewReaderSize(conn, bufSize)

	// status line and headers
	line, err := readLine(br)
	if err != nil {
		r.err = errKind(err, held)
		return
	}
	parts := strings.SplitN(line, " ", 3)
	if len(parts) < 2 || !strings.HasPrefix(parts[0], "HTTP/1.") {
		r.err = "bad-status-line"
		return
	}
	if parts[1] != "200" {
		r.err = "status-" + parts[1]
		return
	}
	var chunked, sse bool
	clen := int64(-1)
	for {
		h, err := readLine(br)
		if err != nil {
			r.err = errKind(err, held)
			return
		}
		if h == "" {
			break
		}
		k, v, _ := strings.Cut(h, ":")
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.ToLower(strings.TrimSpace(v))
		switch k {
		case "transfer-encoding":
			chunked = strings.Contains(v, "chunked")
		case "content-length":
			clen, _ = strconv.ParseInt(v, 10, 64)
		case "content-type":
			sse = strings.Contains(v, "event-stream")
		}
	}
	for o := nOpen.Add(1); ; {
		m := nMaxOpen.Load()
		if o <= m || nMaxOpen.CompareAndSwap(m, o) {
			break
		}
	}
	defer nOpen.Add(-1)

	var body io.Reader = br
	if chunked {
		body = &chunkReader{br: br}
	} else if clen >= 0 {
		body = io.LimitReader(br, clen)
	}

	var last, lastContent time.Time
	pending := false
	isEnd := false
	frame := func(now time.Time) {
		if r.frames == 0 {
			r.ttff = now.Sub(begin)
		} else if len(r.gaps) < maxGaps {
			r.gaps = append(r.gaps, int32(now.Sub(last)/time.Microsecond))
		}
		last = now
		r.frames++
		nFrames.Add(1)
		if isEnd {
			r.finished = true
		} else {
			r.content++
			lastContent = now
		}
	}
	endMarker := func(b []byte) bool {
		return bytes.Contains(b, []byte("[DONE]")) || bytes.Contains(b, []byte(`"done":true`)) ||
			bytes.Contains(b, []byte(`"done": true`))
	}
	buf := make([]byte, bufSize)
	var carry []byte // partial line
	finish := func() {
		r.ok = true
		if expect > 0 && r.content > 0 {
			r.hasDrift = true
			r.drift = lastContent.Sub(begin) - time.Duration(r.content-1)*expect
		}
	}
	for {
		nr, err := body.Read(buf)
		if nr > 0 {
			now := time.Now()
			data := buf[:nr]
			for len(data) > 0 {
				i := bytes.IndexByte(data, '\n')
				if i < 0 {
					carry = append(carry, data...)
					break
				}
				var ln []byte
				if len(carry) > 0 {
					carry = append(carry, data[:i]...)
					ln = carry
				} else {
					ln = data[:i]
				}
				data = data[i+1:]
				ln = bytes.TrimRight(ln, "\r")
				if sse {
					if len(ln) == 0 {
						if pending {
							frame(now)
							pending, isEnd = false, false
						}
					} else if bytes.HasPrefix(ln, []byte("data:")) {
						pending = true
						isEnd = isEnd || endMarker(ln)
					}
				} else if len(ln) > 0 {
					isEnd = endMarker(ln)
					frame(now)
					isEnd = false
				}
				carry = carry[:0]
			}
		}
		if err != nil {
			if err == io.EOF {
				if pending {
					frame(time.Now())
				}
				finish()
				return
			}
			var ne net.Error
			if held && errors.As(err, &ne) && ne.Timeout() && time.Now().After(holdEnd.Add(-time.Millisecond)) {
				if r.frames > 0 {
					r.ok, r.held = true, true
				} else {
					r.err = "held-without-frame"
				}
				return
			}
			r.err = errKind(err, held)
			return
		}
	}
}

// chunkReader decodes an HTTP/1.1 chunked body; io.EOF after the last chunk,
// io.ErrUnexpectedEOF when the connection ends inside the body.
type chunkReader struct {
	br   *bufio.Reader
	left int64
	done bool
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if c.done {
		return 0, io.EOF
	}
	for c.left == 0 {
		line, err := readLine(c.br)
		if err != nil {
			return 0, eofUnexpected(err)
		}
		if line == "" { // CRLF after a chunk's data
			continue
		}
		if i := strings.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := strconv.ParseInt(strings.TrimSpace(line), 16, 64)
		if err != nil {
			return 0, streamErr("bad-chunk")
		}
		if size == 0 {
			c.done = true
			for { // trailers
				t, err := readLine(c.br)
				if err != nil || t == "" {
					break
				}
			}
			return 0, io.EOF
		}
		c.left = size
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	// do not block for more than what is buffered once something is there
	if b := c.br.Buffered(); b > 0 && len(p) > b {
		p = p[:b]
	}
	n, err := c.br.Read(p)
	c.left -= int64(n)
	if err != nil {
		return n, eofUnexpected(err)
	}
	return n, nil
}

func eofUnexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func readLine(br *bufio.Reader) (string, error) {
	b, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		rest, err2 := br.ReadBytes('\n')
		b = append(append([]byte{}, b...), rest...)
		err = err2
	}
	if err != nil {
		if err == io.EOF && len(b) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return "", err
	}
	return string(bytes.TrimRight(b, "\r\n")), nil
}

func errKind(err error, held bool) string {
	var ne net.Error
	s := err.Error()
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), err == io.EOF:
		return "unexpected-eof"
	case strings.Contains(s, "connection refused"):
		return "refused"
	case strings.Contains(s, "connection reset"):
		return "reset"
	case strings.Contains(s, "broken pipe"):
		return "broken-pipe"
	case strings.Contains(s, "too many open files"):
		return "emfile"
	case strings.Contains(s, "cannot assign requested address"):
		return "no-ephemeral-port"
	case errors.As(err, &ne) && ne.Timeout():
		if held {
			return "held-before-headers"
		}
		return "timeout"
	default:
		var se streamErr
		if errors.As(err, &se) {
			return string(se)
		}
		return "error"
	}
}

func pct(sorted []int32, p float64) float64 {
	if len(sorted) == 0 {
		return -1
	}
	idx := int(float64(len(sorted)-1)*p + 0.5)
	return float64(sorted[idx]) / 1000.0
}

func round2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }

func report(rawURL string, n int, wall time.Duration, rs []result, rssEnd, rssMax, openEnd int64) {
	var ok, held, finished, failed, frames int
	kinds := map[string]int{}
	var gaps, ttffs, drifts []int32
	for i := range rs {
		r := &rs[i]
		frames += r.frames
		if r.ok {
			ok++
			if r.held {
				held++
			}
		} else {
			failed++
			kinds[r.err]++
		}
		if r.finished {
			finished++
		}
		if r.ttff >= 0 {
			ttffs = append(ttffs, int32(r.ttff/time.Microsecond))
		}
		if r.hasDrift {
			drifts = append(drifts, int32(r.drift/time.Microsecond))
		}
		gaps = append(gaps, r.gaps...)
	}
	for _, s := range [][]int32{gaps, ttffs, drifts} {
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	}
	var kl []string
	for k, v := range kinds {
		kl = append(kl, fmt.Sprintf("%s:%d", k, v))
	}
	sort.Strings(kl)
	errs := strings.Join(kl, ",")
	if errs == "" {
		errs = "none"
	}
	out := map[string]interface{}{
		"url": rawURL, "n": n, "ok": ok, "held": held, "finished": finished, "failed": failed,
		"errors": errs, "frames": frames, "wall_s": round2(wall.Seconds()),
		"ttff_p50_ms": pct(ttffs, .5), "ttff_p90_ms": pct(ttffs, .9), "ttff_p99_ms": pct(ttffs, .99), "ttff_max_ms": pct(ttffs, 1),
		"gap_p50_ms": pct(gaps, .5), "gap_p90_ms": pct(gaps, .9), "gap_p99_ms": pct(gaps, .99), "gap_max_ms": pct(gaps, 1),
		"gaps": len(gaps), "max_open": nMaxOpen.Load(),
		"rss_end_kb": rssEnd, "rss_max_kb": rssMax, "open_end": openEnd,
	}
	if len(drifts) > 0 {
		out["drift_p50_ms"] = pct(drifts, .5)
		out["drift_max_ms"] = pct(drifts, 1)
		out["drift_min_ms"] = pct(drifts, 0)
	}
	fmt.Fprintf(os.Stderr, "streams n=%d ok=%d (held %d, end marker %d) failed=%d errors=%s\n", n, ok, held, finished, failed, errs)
	fmt.Fprintf(os.Stderr, "frames %d in %.2fs; ttff p50 %.2f p99 %.2f ms; gap p50 %.2f p90 %.2f p99 %.2f max %.2f ms\n",
		frames, wall.Seconds(), pct(ttffs, .5), pct(ttffs, .99), pct(gaps, .5), pct(gaps, .9), pct(gaps, .99), pct(gaps, 1))
	b, _ := json.Marshal(out)
	fmt.Printf("RESULT %s\n", b)
}

// treeRSSKB sums VmRSS over pid and its descendants (0 if pid is gone).
func treeRSSKB(pid int) int64 {
	children := map[int][]int{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		child, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		children[ppid] = append(children[ppid], child)
	}
	var total int64
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		total += vmRSSKB(p)
		queue = append(queue, children[p]...)
	}
	return total
}

func vmRSSKB(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			if f := strings.Fields(line); len(f) >= 2 {
				v, _ := strconv.ParseInt(f[1], 10, 64)
				return v
			}
		}
	}
	return 0
}
