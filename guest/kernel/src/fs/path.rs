//! Path names: the limits (`PATH_MAX`, `NAME_MAX`, 40 symlinks), splitting into components,
//! and the path walk itself, with Linux's rules for `.`, `..`, repeated slashes, trailing
//! slashes and symbolic links.
//!
//! The walk is generic over a [`Walker`] (the VFS implements it over its mount table; the
//! tests implement it over a toy tree), so the rules live here once:
//! - an empty path is `ENOENT`; a path of `PATH_MAX` bytes or more, or a component of more
//!   than `NAME_MAX` bytes, is `ENAMETOOLONG`;
//! - every component but the last must be (or lead through symlinks to) a directory, else
//!   `ENOTDIR`;
//! - symlinks in the middle are always followed, the last one only when asked to, or when a
//!   trailing slash follows it; more than [`MAX_SYMLINK_FOLLOWS`] in one walk is `ELOOP`;
//! - a trailing slash on something that is not a directory is `ENOTDIR`.

use alloc::vec::Vec;

use crate::errno::Errno;

/// Longest path, counting the terminating NUL (so a path has at most `PATH_MAX - 1` bytes).
pub const PATH_MAX: usize = 4096;
/// Longest file name.
pub const NAME_MAX: usize = 255;
/// Most symlinks one path walk follows before it gives up with `ELOOP`.
pub const MAX_SYMLINK_FOLLOWS: u32 = 40;

/// Where a symbolic link leads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkTarget<L> {
    /// An ordinary symlink: a path, resolved relative to the link's directory.
    Path(Vec<u8>),
    /// A "magic" link (`/proc/self/fd/N`, `/proc/self/cwd`): straight to an open file.
    Location(L),
}

/// What a file system tree offers the path walk.
pub trait Walker {
    /// A place in the tree (a file and how it was reached).
    type Loc: Clone;
    /// Where absolute paths start.
    fn root(&self) -> Self::Loc;
    /// Whether `loc` is a directory.
    fn is_dir(&self, loc: &Self::Loc) -> bool;
    /// Whether `loc` is a symbolic link.
    fn is_symlink(&self, loc: &Self::Loc) -> bool;
    /// The entry `name` of directory `dir` (never `.` or `..`): `ENOENT` if missing.
    fn child(&self, dir: &Self::Loc, name: &[u8]) -> Result<Self::Loc, Errno>;
    /// The parent of directory `dir` (the root is its own parent).
    fn parent(&self, dir: &Self::Loc) -> Result<Self::Loc, Errno>;
    /// Where symlink `link` leads.
    fn link_target(&self, link: &Self::Loc) -> Result<LinkTarget<Self::Loc>, Errno>;
    /// `EACCES` unless the caller may look names up in directory `dir` (search permission).
    fn may_search(&self, dir: &Self::Loc) -> Result<(), Errno> {
        let _ = dir;
        Ok(())
    }
}

/// The last component of a path, as the operations that create or remove names see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LastComponent {
    /// An ordinary name.
    Name(Vec<u8>),
    /// `.`
    Dot,
    /// `..`
    DotDot,
    /// The path was only slashes: it names the root itself.
    Root,
}

/// A path split into the directory that holds its last component, and that component.
#[derive(Clone, Debug)]
pub struct ParentAndName<L> {
    /// The directory, with every symlink on the way followed.
    pub dir: L,
    /// The last component.
    pub last: LastComponent,
    /// Whether the path ended with a slash.
    pub trailing_slash: bool,
}

/// Counts the symlinks one path operation follows, across nested walks.
#[derive(Clone, Copy, Debug, Default)]
pub struct LinkCount(u32);

impl LinkCount {
    /// Counts one more link: `ELOOP` past [`MAX_SYMLINK_FOLLOWS`].
    pub fn follow_one(&mut self) -> Result<(), Errno> {
        self.0 += 1;
        if self.0 > MAX_SYMLINK_FOLLOWS {
            return Err(Errno::ELOOP);
        }
        Ok(())
    }
}

/// Checks a whole path: `ENOENT` if empty, `ENAMETOOLONG` if `PATH_MAX` bytes or longer.
pub fn check_path(path: &[u8]) -> Result<(), Errno> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    if path.len() >= PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(())
}

/// Checks one component: `ENAMETOOLONG` if longer than `NAME_MAX`.
pub fn check_name(name: &[u8]) -> Result<(), Errno> {
    if name.len() > NAME_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(())
}

/// The non-empty components of `path`, in order (`.` and `..` included).
pub fn components(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    path.split(|&b| b == b'/').filter(|c| !c.is_empty())
}

/// Whether `path` ends with a slash after a component (`"a/"`, not `"/"`).
pub fn has_trailing_slash(path: &[u8]) -> bool {
    path.last() == Some(&b'/') && components(path).next().is_some()
}

/// `dir` + `/` + `name`, for building the absolute path of what a walk reaches.
pub fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(dir.len() + 1 + name.len());
    out.extend_from_slice(dir);
    if out.last() != Some(&b'/') {
        out.push(b'/');
    }
    out.extend_from_slice(name);
    out
}

/// The directory part of an absolute path (`/a/b` -> `/a`, `/a` -> `/`, `/` -> `/`).
pub fn parent_path(path: &[u8]) -> Vec<u8> {
    let trimmed = match path.iter().rposition(|&b| b != b'/') {
        Some(end) => &path[..=end],
        None => return Vec::from(&b"/"[..]),
    };
    match trimmed.iter().rposition(|&b| b == b'/') {
        Some(0) | None => Vec::from(&b"/"[..]),
        Some(slash) => Vec::from(&trimmed[..slash]),
    }
}

/// Resolves `path` from `base` (ignored for absolute paths). The last component's symlink
/// is followed when `follow_last` is set or the path ends with a slash.
pub fn resolve<W: Walker>(walker: &W, base: &W::Loc, path: &[u8], follow_last: bool) -> Result<W::Loc, Errno> {
    resolve_counted(walker, base, path, follow_last, &mut LinkCount::default())
}

/// [`resolve`], sharing the symlink count with an enclosing operation.
pub fn resolve_counted<W: Walker>(
    walker: &W,
    base: &W::Loc,
    path: &[u8],
    follow_last: bool,
    links: &mut LinkCount,
) -> Result<W::Loc, Errno> {
    check_path(path)?;
    let trailing_slash = has_trailing_slash(path);
    let mut current = if path[0] == b'/' { walker.root() } else { base.clone() };
    let mut remaining = components(path).peekable();
    while let Some(name) = remaining.next() {
        let is_last = remaining.peek().is_none();
        if !walker.is_dir(&current) {
            return Err(Errno::ENOTDIR);
        }
        walker.may_search(&current)?;
        current = match name {
            b"." => current,
            b".." => walker.parent(&current)?,
            _ => {
                check_name(name)?;
                let next = walker.child(&current, name)?;
                if walker.is_symlink(&next) && (!is_last || follow_last || trailing_slash) {
                    follow_link(walker, &current, &next, links)?
                } else {
                    next
                }
            }
        };
    }
    if trailing_slash && !walker.is_dir(&current) {
        return Err(Errno::ENOTDIR);
    }
    Ok(current)
}

/// Follows symlink `link`, found in directory `dir`, to what it finally names.
pub fn follow_link<W: Walker>(walker: &W, dir: &W::Loc, link: &W::Loc, links: &mut LinkCount) -> Result<W::Loc, Errno> {
    links.follow_one()?;
    match walker.link_target(link)? {
        LinkTarget::Path(target) => resolve_counted(walker, dir, &target, true, links),
        LinkTarget::Location(loc) => Ok(loc),
    }
}

/// Resolves every component of `path` but the last, which it returns unresolved: what
/// creating, removing and renaming operate on. `ENOTDIR` if the prefix is not a directory.
pub fn resolve_parent<W: Walker>(walker: &W, base: &W::Loc, path: &[u8]) -> Result<ParentAndName<W::Loc>, Errno> {
    resolve_parent_counted(walker, base, path, &mut LinkCount::default())
}

/// [`resolve_parent`], sharing the symlink count with an enclosing operation.
pub fn resolve_parent_counted<W: Walker>(
    walker: &W,
    base: &W::Loc,
    path: &[u8],
    links: &mut LinkCount,
) -> Result<ParentAndName<W::Loc>, Errno> {
    check_path(path)?;
    let trailing_slash = has_trailing_slash(path);
    let Some(last) = components(path).last() else {
        return Ok(ParentAndName { dir: walker.root(), last: LastComponent::Root, trailing_slash: false });
    };
    let last_start = path.len() - path.iter().rev().position(|&b| b != b'/').unwrap_or(0) - last.len();
    let prefix = &path[..last_start];
    let dir = if prefix.is_empty() { base.clone() } else { resolve_counted(walker, base, prefix, true, links)? };
    if !walker.is_dir(&dir) {
        return Err(Errno::ENOTDIR);
    }
    walker.may_search(&dir)?;
    let last = match last {
        b"." => LastComponent::Dot,
        b".." => LastComponent::DotDot,
        name => {
            check_name(name)?;
            LastComponent::Name(Vec::from(name))
        }
    };
    Ok(ParentAndName { dir, last, trailing_slash })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeMap;
    use alloc::vec;

    /// A toy tree: nodes by index, 0 is the root.
    enum ToyNode {
        Dir { parent: usize, children: BTreeMap<Vec<u8>, usize> },
        File,
        Link(LinkTarget<usize>),
    }

    struct Toy(Vec<ToyNode>);

    impl Toy {
        fn new() -> Toy {
            Toy(vec![ToyNode::Dir { parent: 0, children: BTreeMap::new() }])
        }

        fn add(&mut self, dir: usize, name: &str, node: ToyNode) -> usize {
            let index = self.0.len();
            self.0.push(node);
            if let ToyNode::Dir { children, .. } = &mut self.0[dir] {
                children.insert(Vec::from(name.as_bytes()), index);
            }
            index
        }

        fn dir(&mut self, parent: usize, name: &str) -> usize {
            self.add(parent, name, ToyNode::Dir { parent, children: BTreeMap::new() })
        }

        fn link(&mut self, dir: usize, name: &str, target: &str) -> usize {
            self.add(dir, name, ToyNode::Link(LinkTarget::Path(Vec::from(target.as_bytes()))))
        }
    }

    impl Walker for Toy {
        type Loc = usize;
        fn root(&self) -> usize {
            0
        }
        fn is_dir(&self, loc: &usize) -> bool {
            matches!(self.0[*loc], ToyNode::Dir { .. })
        }
        fn is_symlink(&self, loc: &usize) -> bool {
            matches!(self.0[*loc], ToyNode::Link(_))
        }
        fn child(&self, dir: &usize, name: &[u8]) -> Result<usize, Errno> {
            match &self.0[*dir] {
                ToyNode::Dir { children, .. } => children.get(name).copied().ok_or(Errno::ENOENT),
                _ => Err(Errno::ENOTDIR),
            }
        }
        fn parent(&self, dir: &usize) -> Result<usize, Errno> {
            match &self.0[*dir] {
                ToyNode::Dir { parent, .. } => Ok(*parent),
                _ => Err(Errno::ENOTDIR),
            }
        }
        fn link_target(&self, link: &usize) -> Result<LinkTarget<usize>, Errno> {
            match &self.0[*link] {
                ToyNode::Link(target) => Ok(target.clone()),
                _ => Err(Errno::EINVAL),
            }
        }
    }

    /// / { a/ { b/ { f }, up -> .., loop1 -> loop2, loop2 -> loop1 }, file, abs -> /a/b,
    ///     rel -> a/b/f, dangling -> nowhere, magic => a }
    struct Fixture {
        toy: Toy,
        a: usize,
        b: usize,
        f: usize,
        file: usize,
        dangling: usize,
    }

    fn fixture() -> Fixture {
        let mut toy = Toy::new();
        let a = toy.dir(0, "a");
        let b = toy.dir(a, "b");
        let f = toy.add(b, "f", ToyNode::File);
        toy.link(a, "up", "..");
        toy.link(a, "loop1", "loop2");
        toy.link(a, "loop2", "loop1");
        let file = toy.add(0, "file", ToyNode::File);
        toy.link(0, "abs", "/a/b");
        toy.link(0, "rel", "a/b/f");
        let dangling = toy.link(0, "dangling", "nowhere");
        toy.link(0, "empty", "");
        toy.add(0, "magic", ToyNode::Link(LinkTarget::Location(a)));
        Fixture { toy, a, b, f, file, dangling }
    }

    fn res(fx: &Fixture, base: usize, path: &str, follow: bool) -> Result<usize, Errno> {
        resolve(&fx.toy, &base, path.as_bytes(), follow)
    }

    #[test]
    fn absolute_relative_dots_and_slashes() {
        let fx = fixture();
        assert_eq!(res(&fx, fx.b, "/", true), Ok(0));
        assert_eq!(res(&fx, fx.b, "///", true), Ok(0));
        assert_eq!(res(&fx, 0, "/a/b/f", true), Ok(fx.f));
        assert_eq!(res(&fx, 0, "//a///b//f", true), Ok(fx.f));
        assert_eq!(res(&fx, fx.a, "b/f", true), Ok(fx.f));
        assert_eq!(res(&fx, fx.b, ".", true), Ok(fx.b));
        assert_eq!(res(&fx, fx.b, "..", true), Ok(fx.a));
        assert_eq!(res(&fx, fx.b, "../..", true), Ok(0));
        assert_eq!(res(&fx, 0, "/../../a/./b/../b/f", true), Ok(fx.f));
        assert_eq!(res(&fx, 0, "a/b/", true), Ok(fx.b));
    }

    #[test]
    fn errors_of_the_walk() {
        let fx = fixture();
        assert_eq!(res(&fx, 0, "", true), Err(Errno::ENOENT));
        assert_eq!(res(&fx, 0, "missing", true), Err(Errno::ENOENT));
        assert_eq!(res(&fx, 0, "missing/x", true), Err(Errno::ENOENT));
        assert_eq!(res(&fx, 0, "file/x", true), Err(Errno::ENOTDIR));
        assert_eq!(res(&fx, 0, "file/.", true), Err(Errno::ENOTDIR));
        assert_eq!(res(&fx, 0, "file/..", true), Err(Errno::ENOTDIR));
        assert_eq!(res(&fx, 0, "file/", true), Err(Errno::ENOTDIR));
        assert_eq!(res(&fx, 0, "file", true), Ok(fx.file));
        assert_eq!(res(&fx, fx.file, "x", true), Err(Errno::ENOTDIR));
        let long_name = "x".repeat(NAME_MAX + 1);
        assert_eq!(res(&fx, 0, &long_name, true), Err(Errno::ENAMETOOLONG));
        assert_eq!(res(&fx, 0, &"x".repeat(NAME_MAX), true), Err(Errno::ENOENT));
        let long_path = "a/".repeat(PATH_MAX / 2);
        assert_eq!(res(&fx, 0, &long_path, true), Err(Errno::ENAMETOOLONG));
    }

    #[test]
    fn symlinks_are_followed_as_linux_does() {
        let fx = fixture();
        assert_eq!(res(&fx, 0, "abs", true), Ok(fx.b));
        assert!(fx.toy.is_symlink(&res(&fx, 0, "abs", false).unwrap()));
        assert_eq!(res(&fx, 0, "abs/", false), Ok(fx.b), "a trailing slash follows");
        assert_eq!(res(&fx, 0, "abs/f", false), Ok(fx.f));
        assert_eq!(res(&fx, 0, "rel", true), Ok(fx.f));
        assert_eq!(res(&fx, 0, "rel/", true), Err(Errno::ENOTDIR));
        assert_eq!(res(&fx, 0, "a/up/a/up/file", true), Ok(fx.file));
        assert_eq!(res(&fx, 0, "dangling", true), Err(Errno::ENOENT));
        assert_eq!(res(&fx, 0, "dangling", false), Ok(fx.dangling));
        assert_eq!(res(&fx, 0, "empty", true), Err(Errno::ENOENT));
        assert_eq!(res(&fx, 0, "magic/b/f", true), Ok(fx.f));
        assert_eq!(res(&fx, 0, "a/loop1", true), Err(Errno::ELOOP));
        assert!(res(&fx, 0, "a/loop1", false).is_ok());
        assert_eq!(res(&fx, 0, "a/loop1/x", false), Err(Errno::ELOOP));
    }

    #[test]
    fn forty_links_are_allowed_and_the_forty_first_is_eloop() {
        let mut toy = Toy::new();
        let target = toy.add(0, "l0", ToyNode::File);
        for i in 1..=41 {
            toy.link(0, &alloc::format!("l{i}"), &alloc::format!("l{}", i - 1));
        }
        assert_eq!(resolve(&toy, &0, b"l40", true), Ok(target));
        assert_eq!(resolve(&toy, &0, b"l41", true), Err(Errno::ELOOP));
    }

    #[test]
    fn parent_and_last_component() {
        let fx = fixture();
        let p = resolve_parent(&fx.toy, &0, b"/a/b/new").unwrap();
        assert_eq!((p.dir, p.last, p.trailing_slash), (fx.b, LastComponent::Name(b"new".to_vec()), false));
        let p = resolve_parent(&fx.toy, &fx.a, b"b//new//").unwrap();
        assert_eq!((p.dir, p.last, p.trailing_slash), (fx.b, LastComponent::Name(b"new".to_vec()), true));
        let p = resolve_parent(&fx.toy, &fx.b, b"new").unwrap();
        assert_eq!((p.dir, p.last), (fx.b, LastComponent::Name(b"new".to_vec())));
        let p = resolve_parent(&fx.toy, &0, b"abs/new").unwrap();
        assert_eq!(p.dir, fx.b, "symlinks in the prefix are followed");
        let p = resolve_parent(&fx.toy, &0, b"abs").unwrap();
        assert_eq!((p.dir, p.last), (0, LastComponent::Name(b"abs".to_vec())), "the last one is not");
        assert_eq!(resolve_parent(&fx.toy, &0, b"a/.").unwrap().last, LastComponent::Dot);
        assert_eq!(resolve_parent(&fx.toy, &0, b"a/..").unwrap().last, LastComponent::DotDot);
        assert_eq!(resolve_parent(&fx.toy, &fx.b, b"//").unwrap().last, LastComponent::Root);
        assert_eq!(resolve_parent(&fx.toy, &fx.b, b"//").unwrap().dir, 0);
        assert_eq!(resolve_parent(&fx.toy, &0, b"file/x").unwrap_err(), Errno::ENOTDIR);
        assert_eq!(resolve_parent(&fx.toy, &fx.file, b"x").unwrap_err(), Errno::ENOTDIR);
        assert_eq!(resolve_parent(&fx.toy, &0, b"missing/x").unwrap_err(), Errno::ENOENT);
        assert_eq!(resolve_parent(&fx.toy, &0, b"").unwrap_err(), Errno::ENOENT);
        let long = alloc::format!("a/{}", "x".repeat(NAME_MAX + 1));
        assert_eq!(resolve_parent(&fx.toy, &0, long.as_bytes()).unwrap_err(), Errno::ENAMETOOLONG);
    }

    #[test]
    fn string_helpers() {
        assert_eq!(components(b"//a/./b//").collect::<Vec<_>>(), vec![&b"a"[..], b".", b"b"]);
        assert!(has_trailing_slash(b"a/"));
        assert!(!has_trailing_slash(b"/"));
        assert!(!has_trailing_slash(b"a"));
        assert_eq!(join(b"/", b"x"), b"/x");
        assert_eq!(join(b"/a", b"x"), b"/a/x");
        assert_eq!(parent_path(b"/a/b"), b"/a");
        assert_eq!(parent_path(b"/a"), b"/");
        assert_eq!(parent_path(b"/a/b/"), b"/a");
        assert_eq!(parent_path(b"/"), b"/");
        assert_eq!(check_path(b""), Err(Errno::ENOENT));
        assert_eq!(check_path(&[b'a'; PATH_MAX - 1]), Ok(()));
        assert_eq!(check_path(&[b'a'; PATH_MAX]), Err(Errno::ENAMETOOLONG));
        assert_eq!(check_name(&[b'a'; NAME_MAX]), Ok(()));
        assert_eq!(check_name(&[b'a'; NAME_MAX + 1]), Err(Errno::ENAMETOOLONG));
    }
}
