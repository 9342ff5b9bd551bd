package policy

// ValidTargetName reports whether name can name an agent's local target
// (a route's `target:`, an agent's --target NAME=ADDR): 1 to 63 lowercase
// letters, digits, '-' and '_', starting with a letter or digit. It
// travels in a header, so nothing else is allowed.
func ValidTargetName(name string) bool {
	if len(name) == 0 || len(name) > 63 || name[0] == '-' || name[0] == '_' {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
