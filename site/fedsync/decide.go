package fedsync

// API is one object as the federation API server holds it.
type API struct {
	Exists bool
	RV     string // its resourceVersion
	// Change is its atoll.io/change annotation: the change of the replicated state it was
	// last projected from; "" for an object a user created.
	Change string
}

// Stored is one object as the replicated state holds it.
type Stored struct {
	Exists bool
	Change string // the change that wrote it last
	// Held is false when a bound keeps its body at other sites: this site neither
	// projects it nor takes writes to it.
	Held bool
}

// Memo is what the controller last synced for one object: the state's change and the
// API object's resourceVersion at that moment.
type Memo struct {
	Known      bool
	Change, RV string
}

// Action is what one sync does with an object.
type Action int

// The actions.
const (
	None        Action = iota // in sync, or nothing to do here
	Project                   // create or update the API object from the state
	Write                     // write the API object to the state, as the site API's operator
	RemoveState               // remove the object from the state: a user deleted it here
	DeleteAPI                 // delete the API object: the state removed it
	Refuse                    // a user wrote what this site may not take (a body bound elsewhere)
)

var actionNames = [...]string{"none", "project", "write", "remove-state", "delete-api", "refuse"}

func (a Action) String() string { return actionNames[a] }

// Decide says what to do with one object, from the API server's copy, the state's and
// what was last synced. It is the whole conflict rule: whichever side moved since the
// last sync wins; when both did, the API's edit is written, after the state's change,
// so it wins as the later write (the replicated state's last-writer-wins). Without a
// memo (this process never synced the object), the annotation tells a projection from
// a user's object.
func Decide(a API, s Stored, m Memo) Action {
	switch {
	case !a.Exists && !s.Exists:
		return None
	case !a.Exists:
		switch {
		case !s.Held:
			return None
		case m.Known && m.Change == s.Change:
			return RemoveState // deleted here since the last sync, and the state did not move
		default:
			return Project
		}
	case !s.Exists:
		switch {
		case m.Known && m.RV == a.RV, !m.Known && a.Change != "":
			return DeleteAPI // removed from the state, and not edited here since
		default:
			return Write // created or edited here
		}
	case !s.Held:
		if a.Change == "" || m.Known && m.RV != a.RV {
			return Refuse
		}
		return DeleteAPI // a projection of a body now bound elsewhere: it goes, as the replica drops it
	case m.Known && m.RV == a.RV:
		if m.Change == s.Change {
			return None
		}
		return Project // the state moved; the API object did not
	case m.Known:
		return Write // edited here since the last sync
	case a.Change == s.Change:
		return None // as projected, by another run of this controller
	case a.Change == "":
		return Write // a user's object of the same name as the state's: the later write wins
	default:
		return Project // projected from an older change; the state moved since
	}
}
