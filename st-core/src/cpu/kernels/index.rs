//! cat, index_select, gather and scatter_add kernels.
