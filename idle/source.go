package idle

// Source says where a backend's effective idle limit came from.
type Source uint8

// Sources, from the weakest evidence to none.
const (
	SourceNone       Source = iota // no limit known: the base transport's applies
	SourceConfigured               // set by the caller
	SourceAdvertised               // Keep-Alive response header
	SourceObserved                 // the backend closed an idle connection
)

// String returns the source's name.
func (s Source) String() string {
	switch s {
	case SourceConfigured:
		return "configured"
	case SourceAdvertised:
		return "advertised"
	case SourceObserved:
		return "observed"
	}
	return "none"
}
