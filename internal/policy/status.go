package policy

// heuristicallyCacheable reports whether a status may get heuristic freshness
// (RFC 9110 §15.1: 200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501).
// cacheobject's list predates 308, so we keep our own.
func heuristicallyCacheable(status int) bool {
	switch status {
	case 200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// understood reports whether the cache knows the semantics of a final status well
// enough to store it (RFC 9111 §3, must-understand §5.2.2.3). We never store 304
// (it only updates stored responses).
func understood(status int) bool {
	switch status {
	case 200, 203, 204, 206, 300, 301, 302, 303, 307, 308,
		400, 403, 404, 405, 410, 414, 451, 500, 501, 502, 503, 504:
		return true
	}
	return false
}
