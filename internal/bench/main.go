package main

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// config is the command line, after defaults that depend on other flags
// have been filled in.
type config struct {
	server     string
	latency    time.Duration
	getRounds  int
	postRounds int
	warmup     int // percent of the rounds run first and discarded
	allocs     int
	seed       uint64
	runs       int
	workloads  string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == serveFlag {
		serveMain(os.Args[2:])
		return
	}
	var c config
	flag.StringVar(&c.server, "server", "inproc", "where the server runs: inproc (this process) or child (a child process, so allocation counts are the client's alone)")
	flag.DurationVar(&c.latency, "latency", 0, "one-way delay added by a TCP relay between client and server (e.g. 1ms); 0 for none")
	flag.IntVar(&c.getRounds, "get-rounds", 0, "timed rounds of the 5-byte GET (default 20000, or 1500 with -latency)")
	flag.IntVar(&c.postRounds, "post-rounds", 0, "timed rounds of the 64 KiB POST (default 5000, or 750 with -latency)")
	flag.IntVar(&c.warmup, "warmup", 10, "warm-up rounds run first and discarded, in percent of the timed rounds")
	flag.IntVar(&c.allocs, "allocs", 2000, "sequential requests per round tripper in each of 3 passes counting allocs/op and B/op (the lowest pass is reported)")
	flag.Uint64Var(&c.seed, "seed", 0, "seed of the per-round order (0: a random one, printed in the report)")
	flag.IntVar(&c.runs, "runs", 1, "how many times to measure each workload, with a summary of the ratios when more than once")
	flag.StringVar(&c.workloads, "workloads", "get,post", "comma-separated workloads to run: get, post")
	flag.Parse()

	if err := c.complete(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		flag.Usage()
		os.Exit(2)
	}
	if err := run(os.Stdout, c); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// serveFlag, first on the command line, makes this binary the server of a
// parent run of -server=child. It is not among the flags that -help
// lists: users never pass it.
const serveFlag = "-serve"

// serveMain is the child's main: args are the flags after serveFlag.
func serveMain(args []string) {
	fs := flag.NewFlagSet("bench "+serveFlag, flag.ExitOnError)
	delay := fs.Duration("latency", 0, "one-way delay of the relay in front of the server")
	_ = fs.Parse(args)
	if err := serveChild(os.Stdin, os.Stdout, *delay); err != nil {
		fmt.Fprintln(os.Stderr, "bench "+serveFlag+":", err)
		os.Exit(1)
	}
}

// complete checks c and fills in the defaults that depend on -latency: a
// round trip over the relay takes milliseconds, so fewer rounds keep the
// run near a minute.
func (c *config) complete() error {
	if c.server != "inproc" && c.server != "child" {
		return fmt.Errorf("-server=%q: want inproc or child", c.server)
	}
	if c.latency < 0 || c.warmup < 0 || c.allocs < 1 || c.runs < 1 || c.getRounds < 0 || c.postRounds < 0 {
		return fmt.Errorf("-latency, -warmup, -get-rounds and -post-rounds must not be negative, -allocs and -runs must be positive")
	}
	if c.getRounds == 0 {
		c.getRounds = 20000
		if c.latency > 0 {
			c.getRounds = 1500
		}
	}
	if c.postRounds == 0 {
		c.postRounds = 5000
		if c.latency > 0 {
			c.postRounds = 750
		}
	}
	for w := range strings.SplitSeq(c.workloads, ",") {
		if _, ok := workloads[w]; !ok {
			return fmt.Errorf("-workloads: unknown workload %q: want get or post", w)
		}
	}
	if c.seed == 0 {
		c.seed = rand.Uint64()
	}
	return nil
}

// commandLine is the command that reruns c, with every default spelled
// out and the seed, so that a pasted table says how it was made.
func (c config) commandLine() string {
	return fmt.Sprintf("go run . -server=%s -latency=%s -get-rounds=%d -post-rounds=%d -warmup=%d -allocs=%d -runs=%d -workloads=%s -seed=%d",
		c.server, c.latency, c.getRounds, c.postRounds, c.warmup, c.allocs, c.runs, c.workloads, c.seed)
}

func run(out io.Writer, c config) error {
	srv, err := startServer(c.server, c.latency)
	if err != nil {
		return err
	}
	defer srv.close()

	fmt.Fprintf(out, "command: %s\n", c.commandLine())
	fmt.Fprintf(out, "%s %s/%s, %d CPUs, GOMAXPROCS=%d, %s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(out, "peers: %s\n", peerVersions())
	fmt.Fprintf(out, "server: %s\n", srv.describe())

	// One generator for the whole run, so that the seed alone reproduces
	// every round's order.
	rng := rand.New(rand.NewPCG(c.seed, c.seed^0x9e3779b97f4a7c15))
	names := strings.Split(c.workloads, ",")
	ratios := make(map[string][][]float64) // workload, run, round tripper
	var rtNames []string
	for i := range c.runs {
		for _, w := range names {
			wl := workloads[w]
			rounds := c.getRounds
			if w == "post" {
				rounds = c.postRounds
			}
			warmup := rounds * c.warmup / 100
			res, err := measure(wl, srv, rounds, warmup, c.allocs, rng)
			if err != nil {
				return fmt.Errorf("%s: %w", wl.name, err)
			}
			fmt.Fprintf(out, "\n%s, %d rounds (%d warm-up rounds discarded)", wl.name, rounds, warmup)
			if c.runs > 1 {
				fmt.Fprintf(out, ", run %d of %d", i+1, c.runs)
			}
			fmt.Fprint(out, "\n\n")
			report(out, res, c.server == "inproc")
			run := make([]float64, len(res))
			rtNames = rtNames[:0]
			for k, r := range res {
				run[k] = r.ratioMedians
				rtNames = append(rtNames, r.name)
			}
			ratios[w] = append(ratios[w], run)
		}
	}
	if c.runs > 1 {
		for _, w := range names {
			fmt.Fprintf(out, "\n%s, ratio of medians to bare in each run\n\n", workloads[w].name)
			summary(out, rtNames, ratios[w])
		}
	}
	return nil
}

// peerVersions names the versions of the peers this binary was built
// with, as its go.mod chose them.
func peerVersions() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	var vs []string
	for _, d := range info.Deps {
		switch d.Path {
		case "github.com/hashicorp/go-retryablehttp", "github.com/failsafe-go/failsafe-go":
			vs = append(vs, d.Path+" "+d.Version)
		}
	}
	return strings.Join(vs, ", ")
}
