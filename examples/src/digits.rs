//! The UCI optical-recognition handwritten digits shipped in `examples/data/digits.csv.gz`
//! (1,797 8×8 images, pixels 0..16, labels 0..9; see `examples/data/README.md` for the
//! source and licence).

use flate2::read::GzDecoder;
use st_core::{Device, Error, Result, Tensor};
use st_nn::data::TensorDataset;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Images and labels of the digits set.
pub struct Digits {
    /// `[n, 64]` pixels scaled to `[0, 1]`, row-major 8×8.
    pub images: Vec<f32>,
    /// `n` labels in `0..10`.
    pub labels: Vec<i64>,
}

/// The repository's copy of the data.
pub fn default_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digits.csv.gz")
}

impl Digits {
    /// Reads and parses the gzipped CSV at `path`: 65 integers per row, 64 pixels then the
    /// label.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read or decompressed; [`Error::InvalidArgument`]
    /// naming the line for a malformed row.
    pub fn load(path: &Path) -> Result<Digits> {
        let file = std::fs::File::open(path)
            .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        let mut text = String::new();
        GzDecoder::new(file)
            .read_to_string(&mut text)
            .map_err(|e| Error::io(format!("decompressing {}", path.display()), e))?;
        let mut images = Vec::new();
        let mut labels = Vec::new();
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let row: Vec<u8> = line
                .split(',')
                .map(|v| v.trim().parse::<u8>())
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| Error::invalid("digits", format!("line {}: {e}", i + 1)))?;
            match row.as_slice() {
                [px @ .., label]
                    if px.len() == 64 && *label < 10 && px.iter().all(|&p| p <= 16) =>
                {
                    images.extend(px.iter().map(|&p| f32::from(p) / 16.0));
                    labels.push(i64::from(*label));
                }
                _ => {
                    return Err(Error::invalid(
                        "digits",
                        format!(
                            "line {}: expected 64 pixels in 0..=16 and a label in 0..10",
                            i + 1
                        ),
                    ))
                }
            }
        }
        Ok(Digits { images, labels })
    }

    /// The number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// A seeded split into (train, test) datasets with `test_fraction` of the images held
    /// out; images are `[n, 64]` (or `[n, 1, 8, 8]` with `as_images`) on `device`.
    ///
    /// # Errors
    /// Allocation and device errors.
    pub fn split(
        &self,
        test_fraction: f64,
        seed: u64,
        as_images: bool,
        device: &Device,
    ) -> Result<(TensorDataset, TensorDataset)> {
        use rand::seq::SliceRandom;
        use rand::SeedableRng;
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
        let n_test = ((self.len() as f64) * test_fraction).round() as usize;
        let (test, train) = order.split_at(n_test);
        let make = |idx: &[usize]| -> Result<TensorDataset> {
            let px: Vec<f32> = idx
                .iter()
                .flat_map(|&i| self.images[i * 64..(i + 1) * 64].iter().copied())
                .collect();
            let y: Vec<i64> = idx.iter().map(|&i| self.labels[i]).collect();
            let x = if as_images {
                Tensor::from_vec(px, [idx.len(), 1, 8, 8], device)?
            } else {
                Tensor::from_vec(px, [idx.len(), 64], device)?
            };
            TensorDataset::new(vec![x, Tensor::from_vec(y, [idx.len()], device)?])
        };
        Ok((make(train)?, make(test)?))
    }
}
