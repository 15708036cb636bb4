//! Test helper: builds a valid image file in memory (header, file table, names, page-aligned
//! file data) with uvm-abi's serialisers, for the file-system unit tests.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use uvm_abi::image::{
    EntryKind, FsEntry, ImageHeader, OwnerRecord, Section, FS_ENTRY_SIZE, IMAGE_ALIGN, IMAGE_FORMAT_VERSION,
    IMAGE_HEADER_SIZE, IMAGE_MAGIC, OWNER_RECORD_SIZE, SECTION_ALIGN,
};

/// The mtime every test entry gets.
pub const TEST_MTIME: i64 = 1_700_000_000;

/// One file of a test image, by its path relative to the root.
pub struct TestEntry {
    path: String,
    kind: EntryKind,
    mode: u16,
    data: Vec<u8>,
    /// `(uid, gid)`, if not root's.
    owner: Option<(u32, u32)>,
}

impl TestEntry {
    /// A directory (its parent must be listed before it).
    pub fn dir(path: &str, mode: u16) -> TestEntry {
        TestEntry { path: String::from(path), kind: EntryKind::Directory, mode, data: Vec::new(), owner: None }
    }

    /// A regular file.
    pub fn file(path: &str, mode: u16, data: &[u8]) -> TestEntry {
        TestEntry { path: String::from(path), kind: EntryKind::File, mode, data: Vec::from(data), owner: None }
    }

    /// This entry, owned by `uid` and `gid` (the image's owners section).
    pub fn owned_by(self, uid: u32, gid: u32) -> TestEntry {
        TestEntry { owner: Some((uid, gid)), ..self }
    }

    /// A symlink.
    pub fn symlink(path: &str, target: &str) -> TestEntry {
        TestEntry {
            path: String::from(path),
            kind: EntryKind::Symlink,
            mode: 0o777,
            data: Vec::from(target.as_bytes()),
            owner: None,
        }
    }
}

struct Built {
    kind: EntryKind,
    mode: u16,
    data: Vec<u8>,
    name: Vec<u8>,
    children: BTreeMap<Vec<u8>, usize>,
    owner: Option<(u32, u32)>,
}

/// Builds an image holding `entries` (plus the root) and leaks it, as the VM's mapping is.
/// The app entry is the first regular file listed. Entries are laid out breadth-first, so
/// the root is 0 and its children follow in name order.
pub fn build_image(entries: &[TestEntry]) -> &'static [u8] {
    let mut nodes = alloc::vec![Built {
        kind: EntryKind::Directory,
        mode: 0o755,
        data: Vec::new(),
        name: Vec::new(),
        children: BTreeMap::new(),
        owner: None,
    }];
    let mut by_path: BTreeMap<String, usize> = BTreeMap::new();
    by_path.insert(String::new(), 0);
    let mut app_node = None;
    for entry in entries {
        let (parent_path, name) = entry.path.rsplit_once('/').unwrap_or(("", entry.path.as_str()));
        let parent = by_path[parent_path];
        let index = nodes.len();
        nodes.push(Built {
            kind: entry.kind,
            mode: entry.mode,
            data: entry.data.clone(),
            name: Vec::from(name.as_bytes()),
            children: BTreeMap::new(),
            owner: entry.owner,
        });
        nodes[parent].children.insert(Vec::from(name.as_bytes()), index);
        by_path.insert(entry.path.clone(), index);
        if entry.kind == EntryKind::File && app_node.is_none() {
            app_node = Some(index);
        }
    }

    // Breadth-first order: table position of every node, and each node's parent position.
    let mut order = alloc::vec![0usize];
    let mut parent_of = alloc::vec![0usize];
    let mut first_child = alloc::vec![0u32; nodes.len()];
    let mut cursor = 0;
    while cursor < order.len() {
        let node = order[cursor];
        first_child[node] = order.len() as u32;
        for &child in nodes[node].children.values() {
            order.push(child);
            parent_of.push(cursor);
        }
        cursor += 1;
    }
    let position: BTreeMap<usize, usize> = order.iter().enumerate().map(|(pos, &node)| (node, pos)).collect();

    let align = |n: u64| n.div_ceil(IMAGE_ALIGN) * IMAGE_ALIGN;
    let mut names = Vec::new();
    let mut name_offsets = Vec::new();
    for &node in &order {
        name_offsets.push(names.len() as u32);
        names.extend_from_slice(&nodes[node].name);
    }
    let table_size = (order.len() * FS_ENTRY_SIZE + names.len()) as u64;
    let fs_table = Section { offset: IMAGE_HEADER_SIZE, size: table_size };
    let config = Section { offset: fs_table.end().unwrap().next_multiple_of(SECTION_ALIGN), size: 0 };
    let owned: Vec<(usize, (u32, u32))> =
        order.iter().enumerate().filter_map(|(pos, &node)| Some((pos, nodes[node].owner?))).collect();
    let owners = match owned.len() {
        0 => Section::default(),
        count => Section { offset: config.offset, size: (count * OWNER_RECORD_SIZE) as u64 },
    };
    let mut data_offset = align(owners.end().unwrap().max(config.offset + 1));
    let mut data_sections = Vec::new();
    for &node in &order {
        let size = nodes[node].data.len() as u64;
        data_sections.push(Section { offset: data_offset, size });
        data_offset = align(data_offset + size.max(1));
    }
    let total_size = data_offset;

    let mut image = alloc::vec![0u8; total_size as usize];
    for (pos, &node) in order.iter().enumerate() {
        let built = &nodes[node];
        let is_dir = built.kind == EntryKind::Directory;
        let entry = FsEntry {
            parent: parent_of[pos] as u32,
            kind: built.kind as u8,
            reserved: 0,
            mode: built.mode,
            name_offset: name_offsets[pos],
            name_len: built.name.len() as u32,
            first_child: if is_dir { first_child[node] } else { 0 },
            child_count: if is_dir { built.children.len() as u32 } else { 0 },
            data: if is_dir { Section::default() } else { data_sections[pos] },
            mtime: TEST_MTIME,
        };
        let at = fs_table.offset as usize + pos * FS_ENTRY_SIZE;
        entry.write_to(&mut image[at..at + FS_ENTRY_SIZE]);
        if !is_dir {
            let start = data_sections[pos].offset as usize;
            image[start..start + built.data.len()].copy_from_slice(&built.data);
        }
    }
    let names_at = fs_table.offset as usize + order.len() * FS_ENTRY_SIZE;
    image[names_at..names_at + names.len()].copy_from_slice(&names);
    for (i, &(pos, (uid, gid))) in owned.iter().enumerate() {
        let at = owners.offset as usize + i * OWNER_RECORD_SIZE;
        let record = OwnerRecord { entry: pos as u32, uid, gid, reserved: 0 };
        record.write_to(&mut image[at..at + OWNER_RECORD_SIZE]);
    }
    let header = ImageHeader {
        magic: IMAGE_MAGIC,
        format_version: IMAGE_FORMAT_VERSION,
        abi_version: uvm_abi::ABI_VERSION,
        total_size,
        fs_table,
        config,
        entry_count: order.len() as u32,
        app_entry: app_node.map(|node| position[&node] as u32).unwrap_or(0),
        checksum: 0,
        digest: [0; 32],
        owners,
    };
    header.write_to(&mut image);
    Box::leak(image.into_boxed_slice())
}
