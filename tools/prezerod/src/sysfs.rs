// SPDX-License-Identifier: GPL-2.0

//! The files prezerod reads and writes: NUMA nodes and their CPUs, the `zeroable_hugepages`
//! files of `hugetlb_prezero` and `/sys/kernel/mm/zero_page/`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Parses a kernel CPU or node list such as `0-3,8,10-11`; an empty string is an empty list.
pub(crate) fn parse_list(s: &str) -> Result<Vec<usize>> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let a: usize = a
            .trim()
            .parse()
            .with_context(|| format!("bad list item '{part}'"))?;
        let b: usize = b
            .trim()
            .parse()
            .with_context(|| format!("bad list item '{part}'"))?;
        if a > b || b - a > 65536 {
            bail!("bad range '{part}'");
        }
        out.extend(a..=b);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Reads a decimal number from the start of a file.
pub(crate) fn read_u64(path: &Path) -> io::Result<u64> {
    parse_u64(&fs::read_to_string(path)?)
}

fn parse_u64(s: &str) -> io::Result<u64> {
    s.trim()
        .parse()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("not a number: {s:?}")))
}

/// Writes `text` to a sysfs file in a single `write()`.
pub(crate) fn write_str(path: &Path, text: &str) -> io::Result<()> {
    OpenOptions::new()
        .write(true)
        .open(path)?
        .write(text.as_bytes())
        .map(drop)
}

/// One NUMA node.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) id: usize,
    /// Its `/sys/devices/system/node/nodeN` directory.
    pub(crate) dir: PathBuf,
    /// Its CPUs; empty for a node with memory only.
    pub(crate) cpus: Vec<usize>,
}

/// The online nodes under `root` (`/sys/devices/system/node`), sorted. Without `root`
/// (`CONFIG_NUMA=n`), one node 0 with all online CPUs and no huge page pools.
pub(crate) fn nodes(root: &Path) -> Result<Vec<Node>> {
    if !root.exists() {
        let cpus = fs::read_to_string("/sys/devices/system/cpu/online")
            .ok()
            .and_then(|s| parse_list(&s).ok())
            .unwrap_or_default();
        return Ok(vec![Node {
            id: 0,
            dir: root.join("node0"),
            cpus,
        }]);
    }
    let mut nodes = Vec::new();
    for entry in fs::read_dir(root).with_context(|| format!("{}", root.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(id) = name
            .to_str()
            .and_then(|n| n.strip_prefix("node"))
            .and_then(|n| n.parse().ok())
        else {
            continue;
        };
        let dir = entry.path();
        let cpus = fs::read_to_string(dir.join("cpulist"))
            .ok()
            .and_then(|s| parse_list(&s).ok())
            .unwrap_or_default();
        nodes.push(Node { id, dir, cpus });
    }
    nodes.sort_by_key(|n| n.id);
    Ok(nodes)
}

/// The huge page sizes (kB) of a node, whether or not `hugetlb_prezero` is loaded.
pub(crate) fn hstate_sizes(node_dir: &Path) -> Vec<u64> {
    let mut sizes: Vec<u64> = fs::read_dir(node_dir.join("hugepages"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()
        })
        .collect();
    sizes.sort_unstable();
    sizes
}

/// The `zeroable_hugepages` file of one node and huge page size.
pub(crate) fn zeroable_path(node_dir: &Path, size_kb: u64) -> PathBuf {
    node_dir
        .join("hugepages")
        .join(format!("hugepages-{size_kb}kB"))
        .join("zeroable_hugepages")
}

/// One hugetlb pool (node and size) with its `zeroable_hugepages` file open.
#[derive(Debug)]
pub(crate) struct HugetlbFile {
    /// Opened for reading the count and for `poll()`.
    reader: File,
    /// Opened for writing requests.
    writer: File,
}

impl HugetlbFile {
    pub(crate) fn open(path: &Path) -> io::Result<Self> {
        Ok(Self {
            reader: File::open(path)?,
            writer: OpenOptions::new().write(true).open(path)?,
        })
    }

    /// The descriptor to `poll()` for `POLLPRI`.
    pub(crate) fn poll_fd(&self) -> &File {
        &self.reader
    }

    /// Reads the number of zeroable pages from offset 0, which also re-arms `poll()`.
    pub(crate) fn zeroable(&self) -> io::Result<u64> {
        let mut buf = [0u8; 32];
        let n = self.reader.read_at(&mut buf, 0)?;
        parse_u64(&String::from_utf8_lossy(&buf[..n]))
    }

    /// Asks the kernel to zero up to `n` pages in this thread's context.
    pub(crate) fn zero(&self, n: u64) -> io::Result<()> {
        self.writer
            .write_at(format!("{n}\n").as_bytes(), 0)
            .map(drop)
    }
}

/// The files of the `zero_page` module.
#[derive(Debug, Clone)]
pub(crate) struct ZeroPage {
    dir: PathBuf,
}

impl ZeroPage {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Whether the writer-context interface (`zero_bytes`) exists.
    pub(crate) fn has_zero_bytes(&self) -> bool {
        self.file("zero_bytes").exists()
    }

    /// Bytes cleared so far, by every writer and zero_page's own worker.
    pub(crate) fn zeroed_bytes(&self) -> Option<u64> {
        read_u64(&self.file("zeroed_bytes")).ok()
    }

    /// Clears up to `bytes` of free memory of the calling CPU's node, in this thread's context.
    pub(crate) fn zero_bytes(&self, bytes: u64) -> io::Result<()> {
        write_str(&self.file("zero_bytes"), &format!("{bytes}\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        assert_eq!(
            parse_list("0-3,8,10-11\n").unwrap(),
            [0, 1, 2, 3, 8, 10, 11]
        );
        assert_eq!(parse_list("3,1,1").unwrap(), [1, 3]);
        assert!(parse_list("\n").unwrap().is_empty());
        assert!(parse_list("3-1").is_err());
        assert!(parse_list("a").is_err());
    }
}
