// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title BallastToken
/// @notice The governance token: an 18-decimal ERC-20 with a fixed supply,
/// delegation and per-block vote checkpoints. Balances do not vote by
/// themselves: a holder delegates (to itself or to someone else) and the
/// delegatee's voting power is the sum delegated to it. The governor counts
/// votes as they stood at a proposal's snapshot block (`getPastVotes`), so
/// tokens bought or moved after a proposal is made cannot vote on it.
/// @dev No minting after construction: the supply (and so the quorum's
/// meaning) cannot change under a running vote.
contract BallastToken {
    struct Checkpoint {
        uint64 fromBlock;
        uint192 votes;
    }

    string public name;
    string public symbol;
    uint8 public constant decimals = 18;
    uint256 public immutable totalSupply;

    mapping(address account => uint256) public balanceOf;
    mapping(address owner => mapping(address spender => uint256)) public allowance;
    /// @notice Whom each holder's balance votes for (zero: nobody yet).
    mapping(address holder => address) public delegates;
    mapping(address delegatee => Checkpoint[]) private _checkpoints;
    /// @notice The next nonce each holder must sign for `delegateBySig`.
    mapping(address holder => uint256) public nonces;

    bytes32 public constant DELEGATION_TYPEHASH =
        keccak256("Delegation(address delegatee,uint256 nonce,uint256 expiry)");
    bytes32 private constant _DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,uint256 chainId,address verifyingContract)");
    /// @dev Upper bound of a canonical (low) s value: rejects malleable signatures.
    uint256 private constant _HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    event DelegateChanged(address indexed holder, address indexed fromDelegate, address indexed toDelegate);
    event DelegateVotesChanged(address indexed delegatee, uint256 previousVotes, uint256 newVotes);

    error ZeroAddress();
    error InsufficientBalance(address account, uint256 balance, uint256 needed);
    error InsufficientAllowance(address owner, address spender, uint256 allowance, uint256 needed);
    /// @notice Past votes are only known for mined blocks (`blockNumber < block.number`).
    error FutureLookup(uint256 blockNumber, uint256 currentBlock);
    error SupplyTooLarge(uint256 supply);
    error SignatureExpired(uint256 expiry);
    error InvalidSignature();
    error InvalidNonce(address signer, uint256 expected, uint256 given);

    constructor(string memory name_, string memory symbol_, address holder, uint256 supply) {
        if (holder == address(0)) revert ZeroAddress();
        if (supply > type(uint192).max) revert SupplyTooLarge(supply);
        name = name_;
        symbol = symbol_;
        totalSupply = supply;
        balanceOf[holder] = supply;
        emit Transfer(address(0), holder, supply);
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        _transfer(msg.sender, to, amount);
        return true;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        if (spender == address(0)) revert ZeroAddress();
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            if (allowed < amount) revert InsufficientAllowance(from, msg.sender, allowed, amount);
            allowance[from][msg.sender] = allowed - amount;
        }
        _transfer(from, to, amount);
        return true;
    }

    /// @notice Make `delegatee` vote with the caller's whole balance (itself included).
    function delegate(address delegatee) external {
        _delegate(msg.sender, delegatee);
    }

    /// @notice Delegate for a holder who signed an EIP-712 `Delegation` (it pays no gas).
    /// The domain names this token and the chain id, so a signature is good once,
    /// here, before `expiry` (unix seconds).
    function delegateBySig(address delegatee, uint256 nonce, uint256 expiry, uint8 v, bytes32 r, bytes32 s)
        external
    {
        if (block.timestamp > expiry) revert SignatureExpired(expiry);
        if (uint256(s) > _HALF_ORDER) revert InvalidSignature();
        bytes32 digest = keccak256(
            abi.encodePacked(
                "\x19\x01", domainSeparator(), keccak256(abi.encode(DELEGATION_TYPEHASH, delegatee, nonce, expiry))
            )
        );
        address signer = ecrecover(digest, v, r, s);
        if (signer == address(0)) revert InvalidSignature();
        uint256 expected = nonces[signer];
        if (nonce != expected) revert InvalidNonce(signer, expected, nonce);
        nonces[signer] = expected + 1;
        _delegate(signer, delegatee);
    }

    function domainSeparator() public view returns (bytes32) {
        return keccak256(abi.encode(_DOMAIN_TYPEHASH, keccak256(bytes(name)), block.chainid, address(this)));
    }

    /// @notice Voting power now (what a proposal made in this block will snapshot next block).
    function getVotes(address account) external view returns (uint256) {
        uint256 n = _checkpoints[account].length;
        return n == 0 ? 0 : _checkpoints[account][n - 1].votes;
    }

    /// @notice Voting power at the end of `blockNumber`, which must already be mined.
    function getPastVotes(address account, uint256 blockNumber) external view returns (uint256) {
        if (blockNumber >= block.number) revert FutureLookup(blockNumber, block.number);
        Checkpoint[] storage cps = _checkpoints[account];
        // The last checkpoint at or before blockNumber (binary search).
        uint256 lo = 0;
        uint256 hi = cps.length;
        while (lo < hi) {
            uint256 mid = (lo + hi) / 2;
            if (cps[mid].fromBlock > blockNumber) hi = mid;
            else lo = mid + 1;
        }
        return lo == 0 ? 0 : cps[lo - 1].votes;
    }

    function numCheckpoints(address account) external view returns (uint256) {
        return _checkpoints[account].length;
    }

    function _delegate(address holder, address delegatee) private {
        if (delegatee == address(0)) revert ZeroAddress();
        address previous = delegates[holder];
        delegates[holder] = delegatee;
        emit DelegateChanged(holder, previous, delegatee);
        _moveVotes(previous, delegatee, balanceOf[holder]);
    }

    function _transfer(address from, address to, uint256 amount) private {
        if (to == address(0)) revert ZeroAddress();
        uint256 balance = balanceOf[from];
        if (balance < amount) revert InsufficientBalance(from, balance, amount);
        unchecked {
            balanceOf[from] = balance - amount;
        }
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
        _moveVotes(delegates[from], delegates[to], amount);
    }

    function _moveVotes(address from, address to, uint256 amount) private {
        if (from == to || amount == 0) return;
        if (from != address(0)) _write(from, false, amount);
        if (to != address(0)) _write(to, true, amount);
    }

    function _write(address delegatee, bool add, uint256 amount) private {
        Checkpoint[] storage cps = _checkpoints[delegatee];
        uint256 n = cps.length;
        uint256 previous = n == 0 ? 0 : cps[n - 1].votes;
        // Cannot overflow or underflow: the supply fits uint192 and votes are
        // only ever moved from a delegatee that holds them.
        uint256 next = add ? previous + amount : previous - amount;
        if (n > 0 && cps[n - 1].fromBlock == block.number) {
            cps[n - 1].votes = uint192(next);
        } else {
            cps.push(Checkpoint(uint64(block.number), uint192(next)));
        }
        emit DelegateVotesChanged(delegatee, previous, next);
    }
}
